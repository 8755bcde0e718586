# rollout.windows uses: _Acl
# Run msiexec as a logged-on user, in that user's session: a per-user install must run in the
# user's own context (their profile, HKCU, their SID under Installer\UserData), which the WinRM
# account cannot provide. Registers a one-shot task without a trigger (interactive logon, limited
# token: a per-user install needs no elevation) and starts it. The controller then polls with
# Wait-UserInstallTask, which reads the exit code and removes the task; nothing here waits.
# Arguments are quoted for the command line msiexec parses, as Invoke-Msiexec does.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.

$taskName = [string]$rwArgs.task_name
$taskPath = [string]$rwArgs.task_path
$user = [string]$rwArgs.user
$commandLine = [string]$rwArgs.command_line
$logPath = [string](Get-RwValue $rwArgs 'log_path')
# msiexec fails with 1622 when the log folder is missing. The user's log goes to a folder of its own inside
# the log folder (the controller names it): that user may modify it, nobody else but SYSTEM and
# Administrators, so no other user can plant anything where an administrator later reads. The log folder
# around it stays administrators-only (Protect-RwFolder, _Acl.ps1).
$logAcl = @{ state = $null; removed = @() }
if ($logPath) {
    $userDir = Split-Path -Path $logPath -Parent
    $null = Protect-RwFolder -Path (Split-Path -Path $userDir -Parent)
    $logAcl = Protect-RwFolder -Path $userDir -Modify ([string]$rwArgs.user_sid)
}

$msiexec = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
$action = New-ScheduledTaskAction -Execute $msiexec -Argument $commandLine
$principal = New-ScheduledTaskPrincipal -UserId $user -LogonType Interactive -RunLevel Limited
$settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
    -ExecutionTimeLimit (New-TimeSpan -Hours 2) -MultipleInstances IgnoreNew
$null = Register-ScheduledTask -TaskName $taskName -TaskPath $taskPath -Action $action -Principal $principal `
    -Settings $settings -Force
Start-ScheduledTask -TaskName $taskName -TaskPath $taskPath
$task = Get-ScheduledTask -TaskName $taskName -TaskPath $taskPath
Write-RwResult -Result @{
    task_name = $taskName; task_path = $taskPath; state = $task.State.ToString()
    log_acl = $logAcl.state; removed = $logAcl.removed
}
