# Download a package from an HTTPS URL into its content-addressed cache folder and expand a zip there.
# Bytes count only once their SHA-256 matches: the download goes to a temporary name, gets its real
# name when the hash matches and is deleted when it does not, so the cache never holds bytes nobody
# vouched for. A file already there with the expected hash is not downloaded again. The host's own
# certificate trust and proxy settings apply. check_only writes nothing: it says whether it is there.
$url = [string]$rwArgs.url
$expected = ([string]$rwArgs.sha256).ToLowerInvariant()
$root = [string]$rwArgs.directory
$file = Join-Path -Path $root -ChildPath ([string]$rwArgs.file_name)
$content = Join-Path -Path $root -ChildPath 'package'
$expand = [bool](Get-RwValue $rwArgs 'expand')
$checkOnly = [bool](Get-RwValue $rwArgs 'check_only')
$timeout, $limit = [int]$rwArgs.timeout_seconds, [int64]$rwArgs.max_bytes

function Get-RwSha256([string] $Path) { (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant() }

$downloaded = $false
$present = (Test-Path -LiteralPath $file -PathType Leaf) -and ((Get-RwSha256 $file) -eq $expected)
if (-not $present -and -not $checkOnly) {
    $null = New-Item -ItemType Directory -Path $root -Force
    $partial = "$file.partial"
    # .NET Framework may default to TLS 1.0 only; package servers want 1.2.
    $tls12 = [Net.SecurityProtocolType]::Tls12
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor $tls12
    $failure = $null; $response = $null; $output = $null
    try {
        $request = [Net.WebRequest]::Create($url)
        $request.Timeout = $request.ReadWriteTimeout = $timeout * 1000
        $response = $request.GetResponse()
        $stream = $response.GetResponseStream()
        $output = [IO.File]::Create($partial)
        $buffer = New-Object byte[] 1048576
        $total = [int64]0
        $clock = [Diagnostics.Stopwatch]::StartNew()
        # Bounded in bytes and time: a server that never stops sending cannot fill the disk.
        while (($read = $stream.Read($buffer, 0, $buffer.Length)) -gt 0) {
            $total += $read
            if ($total -gt $limit) { throw "the download is larger than $limit bytes" }
            if ($clock.Elapsed.TotalSeconds -gt $timeout) { throw "the download took longer than $timeout seconds" }
            $output.Write($buffer, 0, $read)
        }
    } catch {
        # The innermost error says what went wrong (name resolution, refused, certificate, HTTP status).
        $failure = $_.Exception.GetBaseException().Message
    } finally {
        if ($output) { $output.Dispose() }
        if ($response) { $response.Dispose() }
    }
    $actual = if ($failure) { $null } else { Get-RwSha256 $partial }
    if ($failure -or $actual -ne $expected) {
        Remove-Item -LiteralPath $partial -Force -ErrorAction SilentlyContinue
        if (-not (Get-ChildItem -LiteralPath $root -Force)) { Remove-Item -LiteralPath $root -Force }
        if ($failure) { throw "download of $url failed: $failure" }
        throw "checksum mismatch for ${url}: expected sha256:$expected, got sha256:$actual; the download was deleted"
    }
    Move-Item -LiteralPath $partial -Destination $file -Force
    $present = $downloaded = $true
}
$ready = $present -and (-not $expand -or (Test-Path -LiteralPath $content -PathType Container))
if ($present -and $expand -and -not $checkOnly -and ($downloaded -or -not $ready)) {
    # Expanded under a temporary name too: a folder named 'package' is always complete.
    $staging = "$content.partial"
    foreach ($old in @($staging, $content)) {
        if (Test-Path -LiteralPath $old) { Remove-Item -LiteralPath $old -Recurse -Force }
    }
    # -ErrorAction Stop: for an entry pointing outside the folder (..\) Expand-Archive only writes an error.
    try { Expand-Archive -LiteralPath $file -DestinationPath $staging -ErrorAction Stop } catch {
        Remove-Item -LiteralPath $staging -Recurse -Force -ErrorAction SilentlyContinue
        throw "cannot expand ${file}: $($_.Exception.Message)"
    }
    Rename-Item -LiteralPath $staging -NewName 'package'
    $ready = $true
}
$folder = if ($expand) { $content } else { $root }
$files = @()
if ($ready) {
    $folder = (Resolve-Path -LiteralPath $folder).ProviderPath
    $files = @(Get-ChildItem -LiteralPath $folder -Recurse -File -Force | ForEach-Object { $_.FullName.Substring($folder.Length).TrimStart('\') })
}
Write-RwResult -Result @{ present = $ready; downloaded = $downloaded; folder = $folder; files = $files }
