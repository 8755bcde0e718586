# Stop exactly the given processes, each only while its PID still has the expected name and start time:
# Windows reuses PIDs, and a PID that meanwhile belongs to another program must never be stopped.
# Start times are compared in the round-trip format ('o', UTC) that Get-SessionProcess reports; Windows
# PowerShell 5.1's ConvertFrom-Json leaves such strings as strings, so this compares text with text.
# Status per process: stopped, gone (ended by itself), recycled (PID now another program), unverified
# (start time unreadable, so not stopped) or failed (with the error). One process that cannot be stopped
# (a protected one: "Access is denied") fails only its own entry, so every other result still comes back.
$results = @(foreach ($target in @(Get-RwValue $rwArgs 'processes')) {
        $wantId = [int](Get-RwValue $target 'pid')
        $wantName = [string](Get-RwValue $target 'name')
        $wantStart = [string](Get-RwValue $target 'start_time')
        $entry = @{ pid = $wantId; name = $wantName; status = 'gone'; error = $null }
        try {
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
                    $stopError = $null
                    try { Stop-Process -InputObject $process -Force -ErrorAction Stop } catch { $stopError = $_.Exception.Message }
                    # Report "gone", not merely "asked to go": the install that follows needs the files free.
                    # HasExited itself throws "Access is denied" for a process this account may not open.
                    $exited = $false
                    try { $exited = $process.WaitForExit($(if ($stopError) { 0 } else { 15000 })) } catch { $exited = $false }
                    if ($exited) { $entry.status = $(if ($stopError) { 'gone' } else { 'stopped' }) }
                    elseif ($stopError) { $entry.status = 'failed'; $entry.error = $stopError }
                    else { $entry.status = 'failed'; $entry.error = 'still running 15 s after Stop-Process' }
                }
            }
        } catch {
            $entry.status = 'failed'; $entry.error = $_.Exception.Message
        }
        $entry
    })
Write-RwResult -Result @{ processes = $results }
