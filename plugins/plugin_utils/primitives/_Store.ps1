# rollout.windows uses: _Acl
# The loader sent with a primitive's whole script when the controller has no record that this host holds
# it (_winhost.build_store_stdin). The controller puts $rwName and $rwHash before it; the script follows on
# stdin after the first NUL line, then another NUL line and the arguments. The script runs whatever
# happens to the copy; first one JSON line says whether it was kept ({"rw_cache": ...}).
# Kept only by an administrator, in a folder only administrators and SYSTEM may use (Protect-RwFolder,
# _Acl.ps1: a folder found with another owner or ACL is made anew and that is reported). A standard user
# must not even try: it may create folders in ProgramData, and a rollout.windows folder it owned would
# make every later package cache refuse to run (Protect-RwFolder's owner check).
$ErrorActionPreference = 'Stop'
$rwAll = [string[]]@($input)
$rwAt = [Array]::IndexOf($rwAll, "`0`0`0`0")
$rwText = ($rwAll | Select-Object -First $rwAt) -join "`n"
$rwBytes = [Text.Encoding]::ASCII.GetBytes($rwText)
$rwDir = Join-Path -Path $env:ProgramData -ChildPath 'rollout.windows\primitives'
try {
    $rwGot = [BitConverter]::ToString([Security.Cryptography.SHA256]::Create().ComputeHash($rwBytes)) -replace '-'
    if ($rwGot -ne $rwHash) { throw "the script arrived with SHA-256 $rwGot, not $rwHash" }
    $rwMe = [Security.Principal.WindowsIdentity]::GetCurrent()
    if (-not ([Security.Principal.WindowsPrincipal]$rwMe).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw "$($rwMe.Name) is not an administrator of this host"
    }
    $rwAcl = Protect-RwFolder -Path $rwDir
    $rwFile = Join-Path -Path $rwDir -ChildPath "$rwName-$rwHash.ps1"
    # Written under a temporary name in the same folder, then moved into place: a command reading it
    # meanwhile finds the old file, no file, or the whole new one, and two commands storing at once
    # each move a complete copy (File.Move refuses an existing target; Replace swaps it in one step).
    $rwTemp = "$rwFile." + [Guid]::NewGuid().ToString('N') + '.tmp'
    try {
        [IO.File]::WriteAllBytes($rwTemp, $rwBytes)
        try { [IO.File]::Move($rwTemp, $rwFile) } catch [IO.IOException] { [IO.File]::Replace($rwTemp, $rwFile, $null) }
    } finally {
        if ([IO.File]::Exists($rwTemp)) { [IO.File]::Delete($rwTemp) }
    }
    $rwReport = @{ stored = $true; dir = $rwDir; acl = $rwAcl.state; removed = $rwAcl.removed }
} catch {
    $rwReport = @{ stored = $false; dir = $rwDir; msg = $_.Exception.Message }
}
$rwLine = ConvertTo-Json -InputObject @{ rw_cache = $rwReport } -Depth 4 -Compress
# ASCII only, as Write-RwResult does: a localized message then reads the same in any code page.
[Console]::Out.WriteLine([regex]::Replace($rwLine, '[^\u0000-\u007F]', { param ($m) '\u{0:x4}' -f [int][char]$m.Value }))
$rwAll | Select-Object -Skip ($rwAt + 1) | & ([ScriptBlock]::Create($rwText))
