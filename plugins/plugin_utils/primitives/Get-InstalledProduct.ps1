# rollout.windows uses: _Products
# Windows Installer products per machine and per user (_Products.ps1 reads them), filtered by product code,
# upgrade code or DisplayName pattern.
$products = Get-RwInstalledProduct -ProductCode ([string](Get-RwValue $rwArgs 'product_code')) `
    -UpgradeCode ([string](Get-RwValue $rwArgs 'upgrade_code')) -Name ([string](Get-RwValue $rwArgs 'name'))
Write-RwResult -Result @{ products = $products }
