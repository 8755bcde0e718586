# Who is logged on interactively: for each session above 0, the user accounts that own processes in it
# (local or domain SIDs S-1-5-21-, Azure AD S-1-12-1-), in session order, then by process id; one entry
# per session and account. Not explorer.exe alone, which a RemoteApp session or a replaced shell never
# runs; not Win32_LogonSession -> Win32_Account, which fails for domain, Azure AD and virtual accounts;
# and not SYSTEM, DWM-n (S-1-5-90-) or UMFD-n (S-1-5-96-), which own processes in every session.
# -IncludeUserName needs the elevated token a WinRM administrator has.
function Get-RwSessionUser {
    param ($Processes)
    if ($null -eq $Processes) { $Processes = @(Get-Process -IncludeUserName) }
    $sidOf = @{}
    $seen = @{}
    foreach ($process in @($Processes | Where-Object { $_.SessionId -gt 0 -and $_.UserName } |
                Sort-Object -Property @('SessionId', 'Id'))) {
        $name = [string]$process.UserName
        if (-not $sidOf.ContainsKey($name)) {
            $sidOf[$name] = $null
            try {
                $sidOf[$name] = (New-Object System.Security.Principal.NTAccount($name)).Translate(
                    [System.Security.Principal.SecurityIdentifier]).Value
            } catch { $sidOf[$name] = $null }
        }
        $sid = $sidOf[$name]
        $key = '{0}|{1}' -f $process.SessionId, $sid
        if ($sid -notmatch '^S-1-(5-21|12-1)-' -or $seen.ContainsKey($key)) { continue }
        $seen[$key] = $true
        @{ session_id = $process.SessionId; user = $name; sid = $sid }
    }
}

# The interactive sessions (Get-RwSessionUser) and the processes named in $Names (with or without .exe, as
# the controller sends them), each with its session id, user and start time: what the Office gate polls. No
# names: the sessions only. StartTime throws (access denied) for a process the account may not open: read in
# a try, null then.
function Get-RwSessionProcess {
    param ($Names)
    $wanted = @($Names | Where-Object { $_ } | ForEach-Object { ([string]$_) -replace '\.exe$', '' })
    $all = @(Get-Process -IncludeUserName)
    $seen = @{}
    $sessions = @(foreach ($entry in @(Get-RwSessionUser -Processes $all)) {
            if ($seen.ContainsKey($entry.session_id)) { continue }
            $seen[$entry.session_id] = $true
            @{ id = $entry.session_id; user = $entry.user; state = 'Active' }
        })
    $processes = @()
    if ($wanted.Count -gt 0) {
        $processes = @($all | Where-Object { $wanted -contains $_.ProcessName } | Sort-Object -Property Id |
            ForEach-Object {
                $started = $null
                try { $started = $_.StartTime.ToUniversalTime().ToString('o') } catch { $started = $null }
                @{
                    pid = $_.Id
                    name = $_.ProcessName + '.exe'
                    session_id = $_.SessionId
                    user = $_.UserName
                    start_time = $started
                }
            })
    }
    @{ sessions = $sessions; processes = $processes }
}
