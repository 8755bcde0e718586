# What the server product records about itself: its registry values (written by the product as LocalSystem)
# and its Windows service. Only read here; the controller checks every value, since a value may hold anything.
$settingsKey = [string]$rwArgs.settings_key
$serviceName = [string]$rwArgs.service
$names = @('Version', 'Mode', 'Database', 'SchemaVersion', 'ClusterName', 'ClusterMembers', 'UpdateProgress',
    'LastInstallLog')
$maxText = 4096
$maxItems = 256

function Get-RwBounded($Value) {
    if ($null -eq $Value) { return $null }
    if ($Value -is [string]) {
        if ($Value.Length -gt $maxText) { return $Value.Substring(0, $maxText) }
        return $Value
    }
    if ($Value -is [int] -or $Value -is [long]) { return $Value }
    if ($Value -is [string[]]) {
        $items = @($Value | Select-Object -First $maxItems | ForEach-Object { Get-RwBounded ([string]$_) })
        return ,[string[]]$items
    }
    # REG_BINARY and the like: what the product never writes; the kind says what it was.
    return $null
}

$values = @{}
$kinds = @{}
$key = Get-Item -LiteralPath "HKLM:\$settingsKey" -ErrorAction SilentlyContinue
$present = @()
if ($null -ne $key) { $present = @($key.GetValueNames()) }
foreach ($name in $names) {
    $values[$name] = $null
    $kinds[$name] = $null
    if ($present -notcontains $name) { continue }
    $kinds[$name] = [string]$key.GetValueKind($name)
    # DoNotExpandEnvironmentNames: a REG_EXPAND_SZ is reported as written, never expanded here.
    $values[$name] = Get-RwBounded ($key.GetValue($name, $null, 'DoNotExpandEnvironmentNames'))
}

$service = Get-Service -Name $serviceName -ErrorAction SilentlyContinue
Write-RwResult -Result @{
    name = [string]$env:COMPUTERNAME
    key_exists = ($null -ne $key)
    values = $values
    kinds = $kinds
    service = $(if ($null -ne $service) { [string]$service.Status } else { $null })
}
