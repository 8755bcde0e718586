# The only script that goes on a command line. WinRS starts every command through cmd.exe, which
# refuses a line over 8,191 characters ("The command line is too long.", Microsoft KB 830473), and
# -EncodedCommand makes a script about 2.67 times longer, so every character here is paid 2.67 times
# on every command: what can live on stdin does.
# Stdin is taken as ansible-core's bootstrap_wrapper.ps1 takes its own payload: the script's lines, a
# line of four NUL characters, then the data piped to the script (JSON arguments; for a loader that
# stores a primitive, the primitive and another NUL line first). Only the first NUL line splits.
$rwM = [string]$ExecutionContext.SessionState.LanguageMode
# AppLocker or WDAC put PowerShell in ConstrainedLanguage: the primitives need .NET and COM, which that
# mode blocks. Say so in JSON before the first statement it would refuse; the controller words it.
if ($rwM -ne 'FullLanguage') { '{"failed":true,"clm":"' + $rwM + '"}'; exit 1 }
# Windows PowerShell 5.1 writes stdout in the console's OEM code page (437, 850, ...) unless told
# otherwise; ansible-core's exec wrapper sets UTF-8 for the same reason.
try { [Console]::OutputEncoding = New-Object Text.UTF8Encoding $false } catch {}
$rwA = [string[]]@($input)
$rwAt = [Array]::IndexOf($rwA, "`0`0`0`0")
$rwA | Select-Object -Skip ($rwAt + 1) | & ([ScriptBlock]::Create(($rwA | Select-Object -First $rwAt) -join "`n"))
