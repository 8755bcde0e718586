# rollout.windows uses: _Session
# Interactive sessions and the processes with the given names, each with session id, user and start time.
# A session's user is the first account Get-RwSessionUser (_Session.ps1) finds in it.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
$names = @(Get-RwValue $rwArgs 'names' | Where-Object { $_ } | ForEach-Object { ([string]$_) -replace '\.exe$', '' })
$all = @(Get-Process -IncludeUserName)

$seen = @{}
$sessions = @(foreach ($entry in @(Get-RwSessionUser -Processes $all)) {
        if ($seen.ContainsKey($entry.session_id)) { continue }
        $seen[$entry.session_id] = $true
        @{ id = $entry.session_id; user = $entry.user; state = 'Active' }
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
