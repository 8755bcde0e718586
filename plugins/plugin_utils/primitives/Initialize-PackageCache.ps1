# rollout.windows uses: _Acl, _Session
# Prepare a content-addressed package cache folder: create it and every subfolder the
# package needs, and name the files that are absent or whose SHA-256 differs, so the
# controller copies only those. Files already right are never rewritten. A small package
# comes inline (base64 in 'content'): such a file is written here, in the same command,
# once its bytes have the SHA-256 the controller named, so it costs no copy of its own.
# msiexec runs elevated from here, so the cache root gets its own ACL first (Protect-RwFolder, _Acl.ps1):
# users may read (per-user installs run msiexec as the user) but never write. A root whose owner or ACL was
# wrong may hold anything a user planted or can still swap: it is made anew, empty, before use.
# With 'processes' (names, as Get-SessionProcess takes them) the answer also lists, after the files are
# written, the sessions and those processes (Get-RwSessionProcess, _Session.ps1): the Office gate's first
# poll, in the command that brought the package instead of one of its own.
$root = [string]$rwArgs.directory
$cache = [string](Get-RwValue $rwArgs 'cache_dir')
if (-not $cache) { $cache = Split-Path -Path $root -Parent }
if (-not ([IO.Path]::GetFullPath($root)).StartsWith(([IO.Path]::GetFullPath($cache)).TrimEnd('\') + '\', 'OrdinalIgnoreCase')) {
    throw "directory $root is not inside the package cache $cache"
}
$acl = Protect-RwFolder -Path $cache -Read 'S-1-5-32-545'
$stale = New-Object System.Collections.Generic.List[string]
$written = New-Object System.Collections.Generic.List[string]
$null = New-Item -ItemType Directory -Path $root -Force
foreach ($file in $rwArgs.files) {
    $path = Join-Path -Path $root -ChildPath ([string]$file.path)
    $parent = Split-Path -Path $path -Parent
    if (-not (Test-Path -LiteralPath $parent -PathType Container)) {
        $null = New-Item -ItemType Directory -Path $parent -Force
    }
    $same = $false
    if (Test-Path -LiteralPath $path -PathType Leaf) {
        $hash = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
        $same = $hash -eq ([string]$file.sha256).ToLowerInvariant()
    }
    if ($same) { continue }
    $content = [string](Get-RwValue $file 'content')
    if (-not $content) { $stale.Add([string]$file.path); continue }
    $bytes = [Convert]::FromBase64String($content)
    $sha = [Security.Cryptography.SHA256]::Create()
    $hash = ([BitConverter]::ToString($sha.ComputeHash($bytes)) -replace '-', '').ToLowerInvariant()
    if ($hash -ne ([string]$file.sha256).ToLowerInvariant()) { throw "content of $($file.path) does not have its SHA-256" }
    # Written beside its place and moved into it: msiexec never finds half a file under the real name.
    $temp = "$path.rw-partial"
    [IO.File]::WriteAllBytes($temp, $bytes)
    if (Test-Path -LiteralPath $path) { Remove-Item -LiteralPath $path -Force }
    [IO.File]::Move($temp, $path)
    $written.Add([string]$file.path)
}
$result = @{
    directory = (Resolve-Path -LiteralPath $root).ProviderPath; stale = $stale.ToArray(); written = $written.ToArray()
    cache_dir = [IO.Path]::GetFullPath($cache).TrimEnd('\'); acl = $acl.state; removed = $acl.removed
}
if ($rwArgs.PSObject.Properties['processes']) {
    $result.office = Get-RwSessionProcess -Names (Get-RwValue $rwArgs 'processes')
}
Write-RwResult -Result $result
