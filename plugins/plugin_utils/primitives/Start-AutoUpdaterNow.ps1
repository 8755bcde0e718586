# rollout.windows uses: _Hive
# The nudge: runs the auto-updater once now, with the argument that makes it check at once, for each user whose
# updater is enabled: policy value Enabled 1 in the user's hive and a startup task <task_path><SID> (at startup,
# not disabled) that starts updater_executable. Starting the startup task would not do: the updater then waits
# for its interval. Each run is a one-shot task under now_path (no trigger; the user as principal, S4U, limited
# token, as the startup task), started, then removed once Task Scheduler has started it (removing a task does
# not end its running instance). Task files are administrators-only (System32\Tasks) and the updater runs as
# the user: nothing a user can write runs elevated. With start false it only reports who would be started.
$policyKey = [string]$rwArgs.policy_key
$taskPath = [string]$rwArgs.task_path
$nowPath = [string]$rwArgs.now_path
$exe = [string]$rwArgs.updater_executable
$argument = [string]$rwArgs.argument
$start = [bool](Get-RwValue $rwArgs 'start')
$users = @(Get-RwValue $rwArgs 'users' | Where-Object { $_ })
# SCHED_S_TASK_HAS_NOT_RUN and SCHED_S_TASK_QUEUED: Task Scheduler has not started the task yet.
$notStarted = @(267011, 267045)

function Start-RwOnce([string] $Sid, [string] $Execute) {
    $action = New-ScheduledTaskAction -Execute $Execute -Argument $argument
    $principal = New-ScheduledTaskPrincipal -UserId $Sid -LogonType S4U -RunLevel Limited
    $settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
        -ExecutionTimeLimit ([TimeSpan]::Zero) -MultipleInstances IgnoreNew
    $null = Register-ScheduledTask -TaskName $Sid -TaskPath $nowPath -Action $action -Principal $principal `
        -Settings $settings -Force
    try {
        Start-ScheduledTask -TaskName $Sid -TaskPath $nowPath
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ([DateTime]::UtcNow -lt $deadline) {
            $info = Get-ScheduledTaskInfo -TaskName $Sid -TaskPath $nowPath
            $result = [long]$info.LastTaskResult
            # A launch failure (logon refused, program missing) is an HRESULT: the updater never ran.
            if ($result -ge 2147483648) { throw ('Task Scheduler could not start the task (0x{0:X8})' -f $result) }
            if ($notStarted -notcontains $result) { return }
            Start-Sleep -Milliseconds 250
        }
        throw 'Task Scheduler did not start the task within 30 seconds'
    } finally {
        Unregister-ScheduledTask -TaskName $Sid -TaskPath $nowPath -Confirm:$false
    }
}

$done = @(foreach ($task in @(Get-ScheduledTask -TaskPath $taskPath -ErrorAction SilentlyContinue)) {
    $sid = [string]$task.TaskName
    $execute = [string](@($task.Actions)[0].Execute)
    $boot = @($task.Triggers | Where-Object { $_.CimClass.CimClassName -eq 'MSFT_TaskBootTrigger' }).Count -gt 0
    if (-not $boot -or -not $execute -or (Split-Path -Path $execute -Leaf) -ne $exe) { continue }
    $user = $null
    try {
        $account = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $sid
        $user = $account.Translate([System.Security.Principal.NTAccount]).Value
    } catch { $user = $null }
    $short = if ($user) { ($user -split '\\')[-1] } else { $sid }
    if ($users.Count -and -not @($users | Where-Object { $_ -in @($sid, $user, $short) })) { continue }
    $entry = @{ sid = $sid; user = $user; policy_enabled = $false; task_state = [string]$task.State
        started = $false; error = $null }
    try {
        $value = Invoke-RwUserHive -Sid $sid -ProfilePath (Get-RwProfilePath -Sid $sid) -Script { param ($root)
            Get-RwValue (Get-ItemProperty -LiteralPath "$root\$policyKey" -ErrorAction SilentlyContinue) 'Enabled'
        }
        $entry.policy_enabled = ($value -is [int]) -and $value -eq 1
    } catch { $entry.error = $_.Exception.Message }
    if ($start -and $entry.policy_enabled -and $entry.task_state -ne 'Disabled') {
        try {
            Start-RwOnce -Sid $sid -Execute $execute
            $entry.started = $true
        } catch { $entry.error = $_.Exception.Message }
    }
    $entry
})
Write-RwResult -Result @{ users = $done }
