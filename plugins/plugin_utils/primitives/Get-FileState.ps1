# Existence, size and SHA-256 of each given path, for the controller's content-addressed cache.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
$files = @(foreach ($path in @(Get-RwValue $rwArgs 'paths')) {
    $entry = @{ path = [string]$path; full_path = $null; exists = $false; is_dir = $false }
    $entry.size = $null
    $entry.sha256 = $null
    $item = Get-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue
    if ($null -ne $item) {
        $entry.full_path = $item.FullName
        $entry.exists = $true
        if ($item.PSIsContainer) {
            $entry.is_dir = $true
        } else {
            $entry.size = $item.Length
            $entry.sha256 = (Get-FileHash -LiteralPath $item.FullName -Algorithm SHA256).Hash.ToLowerInvariant()
        }
    }
    $entry
})
Write-RwResult -Result @{ files = $files }
