# Read the identity of a .msi on the host through the WindowsInstaller.Installer COM object, and with
# payload=true the rows that decide which files msiexec reads from beside it (the controller applies
# the same rules to them as to a package it reads itself: _msi.payload_from_tables, PAYLOAD_TABLES).
# Late binding via InvokeMember: the COM object has no type library PowerShell can use.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
function Invoke-RwCom {
    param ($Object, [string] $Name, [string] $Kind = 'InvokeMethod', [object[]] $Arguments = $null)
    return $Object.GetType().InvokeMember($Name, $Kind, $null, $Object, $Arguments)
}

function Get-RwRow {
    param ($Database, [string] $Table, [string[]] $Column)
    $rows = New-Object System.Collections.Generic.List[object]
    $query = 'SELECT ' + (($Column | ForEach-Object { '`' + $_ + '`' }) -join ', ') + ' FROM `' + $Table + '`'
    # A package without the table (no File table in a package that installs no files) has no rows.
    try { $view = Invoke-RwCom -Object $Database -Name 'OpenView' -Arguments @($query) } catch { return , $rows.ToArray() }
    [void](Invoke-RwCom -Object $view -Name 'Execute')
    while ($true) {
        $record = Invoke-RwCom -Object $view -Name 'Fetch'
        if ($null -eq $record) { break }
        $row = @{}
        for ($i = 0; $i -lt $Column.Count; $i++) {
            $row[$Column[$i]] = Invoke-RwCom -Object $record -Name 'StringData' -Kind 'GetProperty' -Arguments @($i + 1)
        }
        $rows.Add($row)
    }
    [void](Invoke-RwCom -Object $view -Name 'Close')
    [void][System.Runtime.InteropServices.Marshal]::ReleaseComObject($view)
    return , $rows.ToArray()
}

$path = [string](Get-RwValue $rwArgs 'path')
if (-not $path -or -not (Test-Path -LiteralPath $path -PathType Leaf)) { throw "file not found: $path" }
$full = (Resolve-Path -LiteralPath $path).ProviderPath
$installer = New-Object -ComObject WindowsInstaller.Installer
$database = Invoke-RwCom -Object $installer -Name 'OpenDatabase' -Arguments @($full, 0)
$properties = @{}
foreach ($row in (Get-RwRow $database 'Property' @('Property', 'Value'))) { $properties[$row.Property] = $row.Value }

$result = @{ path = $full }
foreach ($key in @('ProductCode', 'ProductVersion', 'UpgradeCode', 'ProductName', 'Manufacturer', 'ALLUSERS',
        'MSIINSTALLPERUSER')) {
    $result[$key] = $properties[$key]
}
if (Get-RwValue $rwArgs 'payload') {
    $summary = Invoke-RwCom -Object $database -Name 'SummaryInformation' -Kind 'GetProperty' -Arguments @(0)
    # PID_WORDCOUNT (15): bit 2 says whether files are compressed into cabinets by default.
    $result.word_count = [int](Invoke-RwCom -Object $summary -Name 'Property' -Kind 'GetProperty' -Arguments @(15))
    # Get-RwRow returns its array as one object (return , ...), so no @() is needed, and none unrolls it.
    $result.tables = @{
        Directory = Get-RwRow $database 'Directory' @('Directory', 'Directory_Parent', 'DefaultDir')
        Component = Get-RwRow $database 'Component' @('Component', 'Directory_')
        File      = Get-RwRow $database 'File' @('FileName', 'Component_', 'Attributes')
        Media     = Get-RwRow $database 'Media' @('Cabinet')
    }
    [void][System.Runtime.InteropServices.Marshal]::ReleaseComObject($summary)
}
[void][System.Runtime.InteropServices.Marshal]::ReleaseComObject($database)
Write-RwResult -Result $result
