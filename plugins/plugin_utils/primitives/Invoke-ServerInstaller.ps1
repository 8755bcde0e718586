# rollout.windows uses: _Tail
# Run the server product's installer with the command line the controller quoted from its argument array
# (_cmdline.command_line), only when the file has the SHA-256 the controller expects and the WinRM token is
# an administrator's. The controller decides what the exit code means; nothing here interprets it.
$installer = [string]$rwArgs.installer
$expected = ([string]$rwArgs.sha256).ToUpperInvariant()
$logPath = [string]$rwArgs.log_path
$result = @{ exists = $false; sha256 = $null; elevated = $null; ran = $false; rc = $null; running = $false
    pid = $null; log_path = $logPath; log_tail = @(); duration = $null }
if (-not (Test-Path -LiteralPath $installer -PathType Leaf)) {
    Write-RwResult -Result $result
    exit 0
}
$result.exists = $true
# Held open, sharing only reading, from the hash until the installer has started: the file that runs is the
# file that was hashed, since nobody can replace or change it meanwhile.
$stream = [IO.File]::Open($installer, 'Open', 'Read', 'Read')
try {
    $result.sha256 = (Get-FileHash -InputStream $stream -Algorithm SHA256).Hash
    if ($result.sha256 -eq $expected) {
        $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
        $principal = New-Object -TypeName Security.Principal.WindowsPrincipal -ArgumentList $identity
        $result.elevated = $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
    }
    if ($result.elevated) {
        $logDir = Split-Path -Path $logPath -Parent
        if (-not (Test-Path -LiteralPath $logDir)) { $null = New-Item -ItemType Directory -Path $logDir -Force }
        # The name is new each run: a file already there did not come from this installer run.
        if (Test-Path -LiteralPath $logPath) { Remove-Item -LiteralPath $logPath -Force }
        $psi = New-Object -TypeName System.Diagnostics.ProcessStartInfo
        $psi.FileName = $installer
        $psi.Arguments = [string]$rwArgs.command_line
        $psi.UseShellExecute = $false
        $psi.CreateNoWindow = $true
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $process = [Diagnostics.Process]::Start($psi)
        $result.ran = $true
    }
} finally { $stream.Dispose() }
if (-not $result.ran) {
    Write-RwResult -Result $result
    exit 0
}

# Bounded: a hung installer must not hold the WinRM command forever. It is left running, never killed:
# stopped halfway, the server would be left with half its files replaced.
$timeout = [int64](Get-RwValue $rwArgs 'timeout_seconds')
if ($timeout -le 0) { $timeout = 3600 }
if (-not $process.WaitForExit([int][Math]::Min($timeout * 1000, [int]::MaxValue))) {
    $result.running = $true
    $result.pid = $process.Id
    Write-RwResult -Result $result
    exit 0
}
$watch.Stop()
$result.rc = $process.ExitCode
$result.duration = [math]::Round($watch.Elapsed.TotalSeconds, 3)
if ($result.rc -ne 0) { $result.log_tail = Read-RwLogTail -Path $logPath }
Write-RwResult -Result $result
