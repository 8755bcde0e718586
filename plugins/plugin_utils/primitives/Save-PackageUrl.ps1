# rollout.windows uses: _Acl, _Zip
# Download a package from an HTTPS URL into its content-addressed cache folder and expand a zip there.
# Bytes count only once their SHA-256 matches: they arrive under a temporary name, get the real one when the
# hash matches and are deleted when not. A file already there with that hash is not fetched again; check_only
# writes nothing. Redirects are refused, not followed: one could lead to plain http or to another server.
$url = [string]$rwArgs.url
$expected = ([string]$rwArgs.sha256).ToLowerInvariant()
$root = [string]$rwArgs.directory
$file = Join-Path -Path $root -ChildPath ([string]$rwArgs.file_name)
$content = Join-Path -Path $root -ChildPath 'package'
$expand, $checkOnly = [bool](Get-RwValue $rwArgs 'expand'), [bool](Get-RwValue $rwArgs 'check_only')
$timeout, $limit, $proxy = [int]$rwArgs.timeout_seconds, [int64]$rwArgs.max_bytes, [string](Get-RwValue $rwArgs 'proxy')
function Get-RwSha256([string] $Path) { (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant() }

# SystemDefault (0) lets Windows choose, TLS 1.3 included where it has it: adding Tls12 would pin 1.2. Any other
# value is a legacy default (Ssl3, Tls without SchUseStrongCrypto): add Tls12 (3072), drop Ssl3/Tls/Tls11 (1008).
$protocol = [int][Net.ServicePointManager]::SecurityProtocol
if ($protocol -ne 0) { [Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType](($protocol -bor 3072) -band -bnot 1008) }
$downloaded = $false
# The cache runs elevated msiexec: its ACL first (Protect-RwFolder, _Acl.ps1), as Initialize-PackageCache does.
if (-not $checkOnly) { $null = Protect-RwFolder -Path $(if ($c = [string](Get-RwValue $rwArgs 'cache_dir')) { $c } else { Split-Path -Path $root -Parent }) -Read 'S-1-5-32-545' }
$present = (Test-Path -LiteralPath $file -PathType Leaf) -and ((Get-RwSha256 $file) -eq $expected)
if (-not $present -and -not $checkOnly) {
    $null = New-Item -ItemType Directory -Path $root -Force
    $partial = "$file.partial"; $failure = $null; $response = $null; $output = $null
    try {
        $request = [Net.WebRequest]::Create($url)
        $request.Timeout = $request.ReadWriteTimeout = $timeout * 1000; $request.AllowAutoRedirect = $false
        # No proxy given: [Net.WebRequest]::DefaultWebProxy, the Internet Options proxy of the WinRM account.
        if ($proxy) { $request.Proxy = New-Object -TypeName Net.WebProxy -ArgumentList $proxy }
        if ((Get-RwValue $rwArgs 'proxy_use_default_credentials') -and $request.Proxy) { $request.Proxy.Credentials = [Net.CredentialCache]::DefaultCredentials }
        $response = $request.GetResponse()
        if (($status = [int]$response.StatusCode) -ge 300 -and $status -lt 400) {
            $to = New-Object -TypeName Uri -ArgumentList ([Uri]$url), ([string]$response.Headers['Location'])
            throw "the server redirects ($status) to $($to.Scheme)://$($to.Authority)/, and redirects are not followed: give the final URL"
        }
        $stream, $output = $response.GetResponseStream(), [IO.File]::Create($partial)
        $buffer, $total, $clock = (New-Object byte[] 1048576), [int64]0, [Diagnostics.Stopwatch]::StartNew()
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
    Expand-RwPackageZip -Path $file -Destination $content -MaxBytes $limit
    $ready = $true
}
$folder = if ($expand) { $content } else { $root }; $files = @()
if ($ready) {
    $folder = (Resolve-Path -LiteralPath $folder).ProviderPath
    $files = @(Get-ChildItem -LiteralPath $folder -Recurse -File -Force | ForEach-Object { $_.FullName.Substring($folder.Length).TrimStart('\') })
}
Write-RwResult -Result @{ present = $ready; downloaded = $downloaded; folder = $folder; files = $files
    security_protocol = [string][Net.ServicePointManager]::SecurityProtocol }
