# Wait a few seconds at most for a task from Register-UserInstallTask to finish. The controller
# decides how long to keep asking (a primitive never loops for minutes, a WinRM command would time
# out). A finished task reports msiexec's exit code (the task's last result) and the tail of its
# log, and is removed; a running one only says so.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
$taskName = [string]$rwArgs.task_name
$taskPath = [string]$rwArgs.task_path
$logPath = [string](Get-RwValue $rwArgs 'log_path')
$wait = [Math]::Max(0, [Math]::Min(30, [int](Get-RwValue $rwArgs 'wait_seconds')))
# SCHED_S_TASK_RUNNING, SCHED_S_TASK_HAS_NOT_RUN, SCHED_S_TASK_QUEUED: msiexec has not ended yet.
$notEnded = @(267009, 267011, 267045)
$deadline = [DateTime]::UtcNow.AddSeconds($wait)
while ($true) {
    $task = Get-ScheduledTask -TaskName $taskName -TaskPath $taskPath -ErrorAction SilentlyContinue
    if ($null -eq $task) { throw "no scheduled task $taskPath$taskName" }
    $info = Get-ScheduledTaskInfo -InputObject $task
    $running = $task.State.ToString() -eq 'Running' -or $notEnded -contains [int64]$info.LastTaskResult
    if (-not $running -or [DateTime]::UtcNow -ge $deadline) { break }
    Start-Sleep -Seconds 1
}
if ($running) {
    Write-RwResult -Result @{ finished = $false; state = $task.State.ToString(); rc = $null; log_tail = @() }
    exit 0
}
$tail = @()
if ($logPath -and (Test-Path -LiteralPath $logPath -PathType Leaf)) {
    # msiexec writes its log as UTF-16LE with a BOM; Get-Content detects it.
    $tail = @(Get-Content -LiteralPath $logPath -Tail 40)
}
Unregister-ScheduledTask -TaskName $taskName -TaskPath $taskPath -Confirm:$false
Write-RwResult -Result @{ finished = $true; state = 'Removed'; rc = [int]$info.LastTaskResult; log_tail = $tail }
