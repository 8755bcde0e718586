# rollout.windows uses: _Tail
# Wait a few seconds at most for a task from Register-UserInstallTask to finish. The controller
# decides how long to keep asking (a primitive never loops for minutes, a WinRM command would time
# out). A finished task reports its last result (msiexec's exit code, or the HRESULT of a launch
# that failed) and the tail of its log, and is removed; a running one only says so. A task that has
# not started while its user has no session left never will (it runs only when the user is logged
# on): that is reported at once, and the task removed, instead of waiting for user_timeout.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
$taskName = [string]$rwArgs.task_name
$taskPath = [string]$rwArgs.task_path
$logPath = [string](Get-RwValue $rwArgs 'log_path')
$userSid = [string](Get-RwValue $rwArgs 'user_sid')
$wait = [Math]::Max(0, [Math]::Min(30, [int](Get-RwValue $rwArgs 'wait_seconds')))
# SCHED_S_TASK_RUNNING, SCHED_S_TASK_HAS_NOT_RUN, SCHED_S_TASK_QUEUED: msiexec has not ended yet.
$notEnded = @(267009, 267011, 267045)

# Owners of processes in sessions above 0 are the interactive users; explorer.exe alone would miss
# RemoteApp sessions and replaced shells. -IncludeUserName needs the elevated token WinRM gives.
function Test-UserSession ([string] $Sid) {
    foreach ($name in @(Get-Process -IncludeUserName | Where-Object { $_.SessionId -gt 0 -and $_.UserName } |
                ForEach-Object { [string]$_.UserName } | Sort-Object -Unique)) {
        try {
            $owner = (New-Object System.Security.Principal.NTAccount($name)).Translate(
                [System.Security.Principal.SecurityIdentifier]).Value
        } catch { continue }
        if ($owner -eq $Sid) { return $true }
    }
    return $false
}

$deadline = [DateTime]::UtcNow.AddSeconds($wait)
$loggedOff = $false
while ($true) {
    $task = Get-ScheduledTask -TaskName $taskName -TaskPath $taskPath -ErrorAction SilentlyContinue
    if ($null -eq $task) { throw "no scheduled task $taskPath$taskName" }
    $info = Get-ScheduledTaskInfo -InputObject $task
    # LastTaskResult is a uint32 (MSFT_TaskDynamicInfo): an [int] cast throws from 0x80000000 on,
    # which is where the HRESULTs of failed launches are. The controller reads the signed meaning.
    $result = [int64]$info.LastTaskResult
    $state = $task.State.ToString()
    $running = $state -eq 'Running' -or $notEnded -contains $result
    if ($running -and $state -ne 'Running' -and $userSid -and -not (Test-UserSession $userSid)) { $loggedOff = $true }
    if ($loggedOff -or -not $running -or [DateTime]::UtcNow -ge $deadline) { break }
    Start-Sleep -Seconds 1
}
if ($running -and -not $loggedOff) {
    Write-RwResult -Result @{ finished = $false; state = $state; rc = $null; task_result = $result; log_tail = @() }
    exit 0
}
$tail = @()
if (-not $loggedOff -and $logPath -and (Test-Path -LiteralPath $logPath -PathType Leaf)) {
    $tail = Read-RwLogTail -Path $logPath
}
# Everything is read before the task goes: a failed removal must not lose the result.
$removed = 'Removed'
try { Unregister-ScheduledTask -TaskName $taskName -TaskPath $taskPath -Confirm:$false }
catch { $removed = 'NotRemoved: ' + $_.Exception.Message }
if ($loggedOff) {
    Write-RwResult -Result @{ finished = $false; state = 'UserLoggedOff'; removed = $removed; rc = $null
        task_result = $result; log_tail = @() }
    exit 0
}
Write-RwResult -Result @{ finished = $true; state = $removed; rc = $result; task_result = $result; log_tail = $tail }
