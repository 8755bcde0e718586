# rollout.windows uses: _Acl, _Tail, _Products
# Run msiexec.exe with the command line the controller quoted from its argument array
# (_msi.command_line); the controller decides what the exit code means. The line goes to
# CreateProcess as data: no shell ever evaluates it.
$commandLine = [string]$rwArgs.command_line
$logPath = [string]$rwArgs.log_path
# msiexec runs elevated, so its log folder gets an ACL only administrators can write (Protect-RwFolder,
# _Acl.ps1; created here, msiexec fails with 1622 when it is missing). A folder whose ACL was wrong is made
# anew without what a user planted in it; a package from the cache runs only while the cache keeps its ACL.
$logAcl = @{ state = $null; removed = @() }
if ($logPath) {
    $logAcl = Protect-RwFolder -Path (Split-Path -Path $logPath -Parent)
    # The name is new each run: anything already there (a hard link, say) did not come from msiexec.
    if (Test-Path -LiteralPath $logPath) { Remove-Item -LiteralPath $logPath -Force }
}
$packageDir = [string](Get-RwValue $rwArgs 'package_dir')
if ($packageDir) { $null = Protect-RwFolder -Path $packageDir -Read 'S-1-5-32-545' -CheckOnly }

$psi = New-Object -TypeName System.Diagnostics.ProcessStartInfo
$psi.FileName = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
$psi.Arguments = $commandLine
$psi.UseShellExecute = $false
$psi.CreateNoWindow = $true
$watch = [System.Diagnostics.Stopwatch]::StartNew()
$process = [System.Diagnostics.Process]::Start($psi)
# Bounded: a hung msiexec must not hold the WinRM command forever. It is left running, never killed:
# stopping it mid-transaction can leave the product half installed; its mutex makes a rerun wait (1618).
$timeout = [int64](Get-RwValue $rwArgs 'timeout_seconds')
if ($timeout -le 0) { $timeout = 3600 }
if (-not $process.WaitForExit([int][Math]::Min($timeout * 1000, [int]::MaxValue))) {
    Write-RwResult -Result @{ rc = $null; running = $true; pid = $process.Id; log_path = $logPath; log_acl = $logAcl; removed = $removed }
    exit 0
}
$watch.Stop()

$tail = @()
if ($logPath -and (Test-Path -LiteralPath $logPath -PathType Leaf)) {
    $tail = Read-RwLogTail -Path $logPath
}
# What msiexec left registered, read in the same command: the task's check of the version costs no command.
$report = Get-RwValue $rwArgs 'report'
$registered = $null
if ($null -ne $report) {
    $registered = Get-RwInstalledProduct -ProductCode ([string](Get-RwValue $report 'product_code')) `
        -UpgradeCode ([string](Get-RwValue $report 'upgrade_code'))
}
Write-RwResult -Result @{
    products = $registered
    rc = $process.ExitCode
    log_path = $(if ($logPath) { $logPath } else { $null })
    log_acl = $logAcl.state
    removed = $logAcl.removed
    log_tail = $tail
    duration = [math]::Round($watch.Elapsed.TotalSeconds, 3)
}
