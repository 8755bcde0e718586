# Stop exactly the given processes, each only while its PID still has the expected name and start time:
# Windows reuses PIDs, and a PID that meanwhile belongs to another program must never be stopped.
# Start times are compared in the round-trip format ('o', UTC) that Get-SessionProcess reports; Windows
# PowerShell 5.1's ConvertFrom-Json leaves such strings as strings, so this compares text with text.
# Status per process: stopped, gone (ended by itself), recycled (PID now another program), unverified
# (start time unreadable, so not stopped) or failed (with the error).
$results = @(foreach ($target in @(Get-RwValue $rwArgs 'processes')) {
        $wantId = [int](Get-RwValue $target 'pid')
        $wantName = [string](Get-RwValue $target 'name')
        $wantStart = [string](Get-RwValue $target 'start_time')
        $entry = @{ pid = $wantId; name = $wantName; status = 'gone'; error = $null }
        $process = Get-Process -Id $wantId -ErrorAction SilentlyContinue
        if ($null -ne $process) {
            $started = $null
            try { $started = $process.StartTime.ToUniversalTime().ToString('o') } catch { $started = $null }
            if ($process.ProcessName -ne ($wantName -replace '\.exe$', '')) {
                $entry.status = 'recycled'
            } elseif ($null -eq $started -or -not $wantStart) {
                $entry.status = 'unverified'
            } elseif ($started -ne $wantStart) {
                $entry.status = 'recycled'
            } else {
                try {
                    Stop-Process -InputObject $process -Force
                    # Report "gone", not merely "asked to go": the install that follows needs the files free.
                    if ($process.WaitForExit(15000)) { $entry.status = 'stopped' }
                    else { $entry.status = 'failed'; $entry.error = 'still running 15 s after Stop-Process' }
                } catch {
                    # It may have ended on its own between Get-Process and Stop-Process.
                    if ($process.HasExited) { $entry.status = 'gone' }
                    else { $entry.status = 'failed'; $entry.error = $_.Exception.Message }
                }
            }
        }
        $entry
    })
Write-RwResult -Result @{ processes = $results }
