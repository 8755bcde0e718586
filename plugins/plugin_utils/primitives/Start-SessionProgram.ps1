# Start a program in logged-on users' own sessions (their desktop, profile and token), which the WinRM
# account cannot do itself: per user, a one-shot task with an Interactive principal, started at once.
# The task's only trigger lies in the past and expires a minute later, so Task Scheduler deletes the
# task by itself (DeleteExpiredTaskAfter) while the program keeps running; no time limit stops it.
# The controller quotes the argument array into command_line (Windows argv rules), as for msiexec.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.

$path = [string]$rwArgs.path
$commandLine = [string](Get-RwValue $rwArgs 'command_line')
$taskPath = [string]$rwArgs.task_path
$users = @($rwArgs.users | Where-Object { $_ } | ForEach-Object { [string]$_ })
# SCHED_S_TASK_HAS_NOT_RUN: the task has not started (yet).
$hasNotRun = 267011

$results = @()
foreach ($user in $users) {
    $taskName = 'start-' + [guid]::NewGuid().ToString('N')
    $entry = @{ user = $user; task_name = $taskName; started = $false; task_result = $null; error = $null }
    try {
        if ($commandLine) {
            $action = New-ScheduledTaskAction -Execute $path -Argument $commandLine
        } else {
            $action = New-ScheduledTaskAction -Execute $path
        }
        $principal = New-ScheduledTaskPrincipal -UserId $user -LogonType Interactive -RunLevel Limited
        $now = Get-Date
        $trigger = New-ScheduledTaskTrigger -Once -At $now.AddMinutes(-1)
        $trigger.EndBoundary = $now.AddMinutes(1).ToString('s')
        $settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
            -ExecutionTimeLimit ([TimeSpan]::Zero) -DeleteExpiredTaskAfter ([TimeSpan]::Zero) -MultipleInstances IgnoreNew
        $null = Register-ScheduledTask -TaskName $taskName -TaskPath $taskPath -Action $action -Principal $principal `
            -Trigger $trigger -Settings $settings -Force
        Start-ScheduledTask -TaskName $taskName -TaskPath $taskPath
        # Bounded: a program either starts within seconds or Task Scheduler has said why not.
        $info = $null
        for ($i = 0; $i -lt 40; $i++) {
            $info = Get-ScheduledTaskInfo -TaskName $taskName -TaskPath $taskPath
            $state = (Get-ScheduledTask -TaskName $taskName -TaskPath $taskPath).State.ToString()
            if ($state -eq 'Running' -or $info.LastTaskResult -ne $hasNotRun) { break }
            Start-Sleep -Milliseconds 250
        }
        $entry.task_result = [int64]$info.LastTaskResult
        $entry.started = ($state -eq 'Running' -or $info.LastTaskResult -eq 0)
        if (-not $entry.started) {
            $entry.error = 'the task did not start the program (task result 0x{0:X8})' -f [int64]$info.LastTaskResult
        }
    } catch {
        $entry.error = $_.Exception.Message
    }
    $results += $entry
}
Write-RwResult -Result @{ users = $results }
