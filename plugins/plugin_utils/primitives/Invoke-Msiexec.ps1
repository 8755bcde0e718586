# Run msiexec.exe with an argument array; the controller decides what the exit code means.
# Arguments are quoted here for the command line msiexec parses: NAME=value properties use
# msiexec's own syntax (NAME="value", a literal " doubled), everything else the
# CommandLineToArgvW rules. Nothing is ever evaluated by a shell.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
function ConvertTo-RwMsiArgument {
    param ([string] $Value)
    if ($Value -match '(?s)^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$') {
        return $Matches[1] + '="' + ($Matches[2] -replace '"', '""') + '"'
    }
    if ($Value -ne '' -and $Value -notmatch '[\s"]') { return $Value }
    $escaped = $Value -replace '(\\*)"', '$1$1\"'
    $escaped = $escaped -replace '(\\+)$', '$1$1'
    return '"' + $escaped + '"'
}

$argList = @(Get-RwValue $rwArgs 'arguments' | ForEach-Object { [string]$_ })
$logPath = [string](Get-RwValue $rwArgs 'log_path')
$given = $null
for ($i = 0; $i -lt $argList.Count - 1; $i++) {
    if ($argList[$i] -match '^[/-](l[iwearucmopvx+!*]*|log)$') { $given = $argList[$i + 1] }
}
if ($logPath -and $null -eq $given) { $argList += @('/L*V', $logPath) }
if (-not $logPath) { $logPath = $given }
# msiexec fails with 1622 when the log folder is missing; creating it is always safe.
if ($logPath) {
    $logDir = Split-Path -Path $logPath -Parent
    if ($logDir -and -not (Test-Path -LiteralPath $logDir)) { $null = New-Item -ItemType Directory -Path $logDir -Force }
}

$psi = New-Object -TypeName System.Diagnostics.ProcessStartInfo
$psi.FileName = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
$psi.Arguments = (@($argList | ForEach-Object { ConvertTo-RwMsiArgument -Value $_ }) -join ' ')
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
