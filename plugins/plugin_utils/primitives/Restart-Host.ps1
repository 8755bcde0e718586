# Start a restart: shutdown.exe with the command line the controller quoted from its argument array
# (/r /f /t <delay> [/c <msg>], _cmdline.command_line). The line goes to CreateProcess as data: no shell
# ever parses it, and shutdown.exe itself checks the delay and the message.
# /f is explicit: shutdown.exe implies it for any /t above 0 ("If the timeout period is greater than 0, the /f
# parameter is implied", Microsoft's shutdown command reference), and with /t 0 an application could otherwise
# hold the restart up. Running applications are closed without asking to save.
# shutdown.exe only schedules the restart and returns, so this result normally reaches the controller
# before WinRM stops; with a delay of 0 it may not, and the controller allows for that.
function Invoke-RwShutdown {
    param ([string] $CommandLine)
    $psi = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $psi.FileName = Join-Path -Path $env:SystemRoot -ChildPath 'System32\shutdown.exe'
    $psi.Arguments = $CommandLine
    $psi.UseShellExecute = $false
    $psi.CreateNoWindow = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($psi)
    # Read stderr asynchronously: two synchronous reads can deadlock on a full pipe buffer.
    $stderr = $process.StandardError.ReadToEndAsync()
    $stdout = $process.StandardOutput.ReadToEnd()
    # shutdown.exe only schedules and returns; bounded all the same, so no host wait is open-ended.
    if (-not $process.WaitForExit(60000)) { throw 'shutdown.exe did not return within 60 seconds' }
    return @{ rc = $process.ExitCode; output = ($stdout + $stderr.Result).Trim() }
}

$commandLine = [string]$rwArgs.command_line
$run = Invoke-RwShutdown -CommandLine $commandLine
$abortedPending = $false
# 1190: a shutdown is already scheduled (by another tool or an earlier run). The task asked for a
# restart on its own terms, so replace that one instead of failing or waiting for a foreign deadline.
if ($run.rc -eq 1190) {
    $null = Invoke-RwShutdown -CommandLine '/a'
    $abortedPending = $true
    $run = Invoke-RwShutdown -CommandLine $commandLine
}
Write-RwResult -Result @{
    rc = $run.rc
    output = $run.output
    aborted_pending = $abortedPending
    command_line = $commandLine
}
