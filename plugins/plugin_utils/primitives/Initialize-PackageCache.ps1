# Prepare a content-addressed package cache folder: create it and every subfolder the
# package needs, and name the files that are absent or whose SHA-256 differs, so the
# controller copies only those. Files already right are never rewritten.
$root = [string]$rwArgs.directory
$stale = New-Object System.Collections.Generic.List[string]
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
    if (-not $same) { $stale.Add([string]$file.path) }
}
Write-RwResult -Result @{ directory = (Resolve-Path -LiteralPath $root).ProviderPath; stale = $stale.ToArray() }
