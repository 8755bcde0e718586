# Read the identity of a .msi on the host through the WindowsInstaller.Installer COM object.
# Late binding via InvokeMember: the COM object has no type library PowerShell can use.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
function Invoke-RwCom {
    param ($Object, [string] $Name, [string] $Kind = 'InvokeMethod', [object[]] $Arguments = $null)
    return $Object.GetType().InvokeMember($Name, $Kind, $null, $Object, $Arguments)
}

$path = [string](Get-RwValue $rwArgs 'path')
if (-not $path -or -not (Test-Path -LiteralPath $path -PathType Leaf)) { throw "file not found: $path" }
$full = (Resolve-Path -LiteralPath $path).ProviderPath
$installer = New-Object -ComObject WindowsInstaller.Installer
$database = Invoke-RwCom -Object $installer -Name 'OpenDatabase' -Arguments @($full, 0)
$view = Invoke-RwCom -Object $database -Name 'OpenView' -Arguments @('SELECT `Property`, `Value` FROM `Property`')
[void](Invoke-RwCom -Object $view -Name 'Execute')
$properties = @{}
while ($true) {
    $record = Invoke-RwCom -Object $view -Name 'Fetch'
    if ($null -eq $record) { break }
    $name = Invoke-RwCom -Object $record -Name 'StringData' -Kind 'GetProperty' -Arguments @(1)
    $properties[$name] = Invoke-RwCom -Object $record -Name 'StringData' -Kind 'GetProperty' -Arguments @(2)
}
[void](Invoke-RwCom -Object $view -Name 'Close')
[void][System.Runtime.InteropServices.Marshal]::ReleaseComObject($view)
[void][System.Runtime.InteropServices.Marshal]::ReleaseComObject($database)

$result = @{ path = $full }
foreach ($key in @('ProductCode', 'ProductVersion', 'UpgradeCode', 'ProductName', 'Manufacturer', 'ALLUSERS',
        'MSIINSTALLPERUSER')) {
    $result[$key] = $properties[$key]
}
Write-RwResult -Result $result
