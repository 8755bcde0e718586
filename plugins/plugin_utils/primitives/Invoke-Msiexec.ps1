# Run msiexec.exe with the command line the controller quoted from its argument array
# (_msi.command_line); the controller decides what the exit code means. The line goes to
# CreateProcess as data: no shell ever evaluates it.
$commandLine = [string]$rwArgs.command_line
$logPath = [string]$rwArgs.log_path
# msiexec fails with 1622 when the log folder is missing; creating it is always safe.
if ($logPath) {
    $logDir = Split-Path -Path $logPath -Parent
    if ($logDir -and -not (Test-Path -LiteralPath $logDir)) { $null = New-Item -ItemType Directory -Path $logDir -Force }
}

$psi = New-Object -TypeName System.Diagnostics.ProcessStartInfo
$psi.FileName = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
$psi.Arguments = $commandLine
$psi.UseShellExecute = $false
$psi.CreateNoWindow = $true
$watch = [System.Diagnostics.Stopwatch]::StartNew()
$process = [System.Diagnostics.Process]::Start($psi)
$process.WaitForExit()
$watch.Stop()

$tail = @()
if ($logPath -and (Test-Path -LiteralPath $logPath -PathType Leaf)) {
    # msiexec writes its log as UTF-16LE with a BOM; Get-Content detects it.
    $tail = @(Get-Content -LiteralPath $logPath -Tail 40)
}
Write-RwResult -Result @{
    rc = $process.ExitCode
    log_path = $(if ($logPath) { $logPath } else { $null })
    log_tail = $tail
    duration = [math]::Round($watch.Elapsed.TotalSeconds, 3)
}
