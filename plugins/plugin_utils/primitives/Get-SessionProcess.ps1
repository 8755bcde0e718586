# Interactive sessions and the processes with the given names, each with session id, user and start time.
# A session above 0 is a user's when that user account owns processes in it (local or domain SIDs
# S-1-5-21-, Azure AD S-1-12-1-): explorer.exe alone would miss RemoteApp sessions and replaced
# shells, and SYSTEM, DWM-n (S-1-5-90-) and UMFD-n (S-1-5-96-) own processes in every session.
# -IncludeUserName needs an elevated token, which a WinRM administrator has.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
$names = @(Get-RwValue $rwArgs 'names' | Where-Object { $_ } | ForEach-Object { ([string]$_) -replace '\.exe$', '' })
$all = @(Get-Process -IncludeUserName)

$sidOf = @{}
$seen = @{}
$sessions = @(foreach ($process in @($all | Where-Object { $_.SessionId -gt 0 -and $_.UserName } |
                Sort-Object -Property @('SessionId', 'Id'))) {
        $name = [string]$process.UserName
        if (-not $sidOf.ContainsKey($name)) {
            $sidOf[$name] = $null
            try {
                $sidOf[$name] = (New-Object System.Security.Principal.NTAccount($name)).Translate(
                    [System.Security.Principal.SecurityIdentifier]).Value
            } catch { $sidOf[$name] = $null }
        }
        if ($sidOf[$name] -notmatch '^S-1-(5-21|12-1)-' -or $seen.ContainsKey($process.SessionId)) { continue }
        $seen[$process.SessionId] = $true
        @{ id = $process.SessionId; user = $name; state = 'Active' }
    })

$processes = @()
if ($names.Count -gt 0) {
    $processes = @($all | Where-Object { $names -contains $_.ProcessName } | Sort-Object -Property Id |
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
Write-RwResult -Result @{ sessions = $sessions; processes = $processes }
