# The only script that goes on a command line. WinRS starts every command through cmd.exe, which
# refuses a line over 8,191 characters ("The command line is too long.", Microsoft KB 830473), and
# -EncodedCommand makes a script about 2.67 times longer. So the primitive and its JSON arguments
# follow on stdin, as ansible-core's bootstrap_wrapper.ps1 takes its own payload: the script's
# lines, a line of four NUL characters, then the arguments.
$rwMode = [string]$ExecutionContext.SessionState.LanguageMode
if ($rwMode -ne 'FullLanguage') {
    # AppLocker or WDAC put PowerShell in ConstrainedLanguage: the primitives need .NET and COM,
    # which that mode blocks. Say so in JSON before the first statement it would refuse.
    '{"failed":true,"clm":true,"msg":"PowerShell runs in ' + $rwMode + ' mode on this host (an AppLocker or WDAC policy): rollout.windows needs FullLanguage for the WinRM account. Exempt that account or its scripts from the policy."}'
    exit 1
}
# Windows PowerShell 5.1 writes stdout in the console's OEM code page (437, 850, ...) unless told
# otherwise; ansible-core's exec wrapper sets UTF-8 for the same reason.
try { [Console]::OutputEncoding = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false } catch {}
$rwCode = New-Object -TypeName System.Collections.Generic.List[string]
$rwData = New-Object -TypeName System.Collections.Generic.List[string]
$rwInto = $rwCode
foreach ($rwLine in $input) {
    if ([string]::Equals($rwLine, "`0`0`0`0")) { $rwInto = $rwData; continue }
    $rwInto.Add([string]$rwLine)
}
$rwBlock = [ScriptBlock]::Create([string]::Join("`n", $rwCode))
$rwData | & $rwBlock
