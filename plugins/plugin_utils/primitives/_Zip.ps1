# Expanding a downloaded zip, bounded: a small archive can expand to terabytes (a zip bomb). Its
# central directory is read first, so sizes and the entry count are checked before a byte is written.
# Expand-Archive itself refuses entries that point outside the folder (..\), with -ErrorAction Stop.
# Expanded under a temporary name: a folder with the final name is always complete.
function Expand-RwPackageZip {
    param ([string] $Path, [string] $Destination, [int64] $MaxBytes, [int] $MaxEntries = 100000)
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    $zip = [IO.Compression.ZipFile]::OpenRead($Path)
    try {
        $count = $zip.Entries.Count
        if ($count -gt $MaxEntries) { throw "cannot expand ${Path}: $count entries, over $MaxEntries" }
        $total = [int64]0
        foreach ($entry in $zip.Entries) { $total += $entry.Length }
        if ($total -gt $MaxBytes) { throw "cannot expand ${Path}: it expands to $total bytes, over $MaxBytes" }
    }
    finally { $zip.Dispose() }
    $staging = "$Destination.partial"
    foreach ($old in @($staging, $Destination)) { if (Test-Path -LiteralPath $old) { Remove-Item -LiteralPath $old -Recurse -Force } }
    try { Expand-Archive -LiteralPath $Path -DestinationPath $staging -ErrorAction Stop } catch {
        Remove-Item -LiteralPath $staging -Recurse -Force -ErrorAction SilentlyContinue
        throw "cannot expand ${Path}: $($_.Exception.Message)"
    }
    Rename-Item -LiteralPath $staging -NewName (Split-Path -Path $Destination -Leaf)
}
