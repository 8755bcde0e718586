# Interactive sessions and the processes with the given names, each with session id, user and start time.
# A session is taken to be interactive when it runs explorer.exe (the shell of a logged-on user);
# -IncludeUserName needs an elevated token, which a WinRM administrator has.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
$names = @(Get-RwValue $rwArgs 'names' | Where-Object { $_ } | ForEach-Object { ([string]$_) -replace '\.exe$', '' })
$all = @(Get-Process -IncludeUserName)

$sessions = @($all | Where-Object { $_.ProcessName -eq 'explorer' -and $_.SessionId -gt 0 } |
    Sort-Object -Property SessionId -Unique |
    ForEach-Object { @{ id = $_.SessionId; user = $_.UserName; state = 'Active' } })

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
