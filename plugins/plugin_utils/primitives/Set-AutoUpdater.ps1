# rollout.windows uses: _Hive
# Applies what the controller decided, for each user: policy values written (REG_DWORD or REG_SZ) or removed
# (null) in the user's hive, and the startup task registered or removed. It decides nothing itself.
# The policy key lies under Software\Policies, which users can only read (Windows' default ACL, inherited by
# what is created below it). The task starts the updater at every system restart as the user, without a
# stored password (S4U) and with a limited token: nothing a user can write runs elevated.
$policyKey = [string]$rwArgs.policy_key
$taskPath = [string]$rwArgs.task_path
$done = @(foreach ($entry in @($rwArgs.users)) {
    $sid = [string]$entry.sid
    $values = Get-RwValue $entry 'values'
    $changed = @()
    if ($null -ne $values) {
        $changed = @(Invoke-RwUserHive -Sid $sid -ProfilePath ([string](Get-RwValue $entry 'profile')) -Script {
            param ($root)
            $key = "$root\$policyKey"
            if (-not (Test-Path -LiteralPath $key)) { $null = New-Item -Path $key -Force }
            foreach ($item in $values.PSObject.Properties) {
                if ($null -eq $item.Value) {
                    Remove-ItemProperty -LiteralPath $key -Name $item.Name -ErrorAction SilentlyContinue
                } else {
                    $null = New-ItemProperty -LiteralPath $key -Name $item.Name -PropertyType ([string]$item.Value.type) `
                        -Value $item.Value.data -Force
                }
                $item.Name
            }
        })
    }
    $task = [string](Get-RwValue $entry 'task')
    if ($task -eq 'unregister') {
        Unregister-ScheduledTask -TaskPath $taskPath -TaskName $sid -Confirm:$false
    } elseif ($task -eq 'register') {
        $action = New-ScheduledTaskAction -Execute ([string]$entry.execute) -Argument ([string]$entry.argument)
        $trigger = New-ScheduledTaskTrigger -AtStartup
        $principal = New-ScheduledTaskPrincipal -UserId $sid -LogonType S4U -RunLevel Limited
        # The updater waits for Office to close for hours (120 polls of 2 minutes by default): no time limit.
        $settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
            -ExecutionTimeLimit ([TimeSpan]::Zero) -MultipleInstances IgnoreNew
        $null = Register-ScheduledTask -TaskName $sid -TaskPath $taskPath -Action $action -Trigger $trigger `
            -Principal $principal -Settings $settings -Force
    }
    @{ sid = $sid; values = $changed; task = $(if ($task) { $task } else { 'unchanged' }) }
})
Write-RwResult -Result @{ users = $done }
