# Windows Installer products per machine (S-1-5-18) and per user, as Windows Installer registers them:
# UserData\<SID>\Products\<packed code>\InstallProperties, plus the UpgradeCodes keys for the upgrade code.
# HKU holds only the hives of users who are logged on, so a per-user product of anyone else is mapped by the
# machine-wide key RegisterProduct writes for every context, or else by its cached package (LocalPackage).
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
function ConvertFrom-RwPackedGuid {
    param ([string] $Packed)
    $p = $Packed.ToUpperInvariant()
    $hex = (-join $p.Substring(0, 8).ToCharArray()[7..0]) + (-join $p.Substring(8, 4).ToCharArray()[3..0]) +
        (-join $p.Substring(12, 4).ToCharArray()[3..0])
    for ($i = 16; $i -lt 32; $i += 2) { $hex += $p.Substring($i + 1, 1) + $p.Substring($i, 1) }
    return '{' + $hex.Substring(0, 8) + '-' + $hex.Substring(8, 4) + '-' + $hex.Substring(12, 4) + '-' +
        $hex.Substring(16, 4) + '-' + $hex.Substring(20, 12) + '}'
}

function Get-RwPackageUpgradeCode([string] $Path) {
    if (-not $Path -or -not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    try {
        # Late binding: the WindowsInstaller.Installer COM object has no type library PowerShell can use.
        $msi = New-Object -ComObject WindowsInstaller.Installer
        $db = $msi.GetType().InvokeMember('OpenDatabase', 'InvokeMethod', $null, $msi, @($Path, 0))
        $sql = 'SELECT `Value` FROM `Property` WHERE `Property` = ''UpgradeCode'''
        $view = $db.GetType().InvokeMember('OpenView', 'InvokeMethod', $null, $db, @($sql))
        [void]$view.GetType().InvokeMember('Execute', 'InvokeMethod', $null, $view, $null)
        $row = $view.GetType().InvokeMember('Fetch', 'InvokeMethod', $null, $view, $null)
        if ($null -ne $row) { return ([string]$row.GetType().InvokeMember('StringData', 'GetProperty', $null, $row, @(1))).ToUpperInvariant() }
    } catch { return $null }
    return $null
}

# Products by $ProductCode, $UpgradeCode, DisplayName pattern $Name (each optional): Get-InstalledProduct's answer, Invoke-Msiexec's report.
function Get-RwInstalledProduct {
    param ([string] $ProductCode, [string] $UpgradeCode, [string] $Name)
    $wantCode = $ProductCode.ToUpperInvariant(); $wantUpgrade = $UpgradeCode.ToUpperInvariant(); $wantName = $Name
    $upgradeOf = @{}
    $roots = @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UpgradeCodes',
        'HKLM:\SOFTWARE\Classes\Installer\UpgradeCodes') + @(Get-ChildItem -Path 'Registry::HKEY_USERS' |
        ForEach-Object { "Registry::HKEY_USERS\$($_.PSChildName)\Software\Microsoft\Installer\UpgradeCodes" })
    foreach ($root in $roots) {
        if (-not (Test-Path -LiteralPath $root)) { continue }
        foreach ($key in Get-ChildItem -LiteralPath $root) {
            foreach ($packed in $key.GetValueNames()) {
                if ($packed) { $upgradeOf[$packed.ToUpperInvariant()] = $key.PSChildName }
            }
        }
    }

    $userData = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData'
    $products = @(foreach ($sidKey in Get-ChildItem -Path $userData) {
        $sid = $sidKey.PSChildName
        $productsKey = Join-Path -Path $sidKey.PSPath -ChildPath 'Products'
        foreach ($productKey in @(Get-ChildItem -Path $productsKey -ErrorAction SilentlyContinue)) {
            $props = Get-ItemProperty -Path (Join-Path $productKey.PSPath 'InstallProperties') -ErrorAction SilentlyContinue
            if ($null -eq $props) { continue }
            $packed = $productKey.PSChildName.ToUpperInvariant()
            $code = ConvertFrom-RwPackedGuid -Packed $packed
            if ($wantCode -and $code -ne $wantCode) { continue }
            if ($upgradeOf.ContainsKey($packed)) { $upgrade = ConvertFrom-RwPackedGuid -Packed $upgradeOf[$packed] }
            else { $upgrade = Get-RwPackageUpgradeCode -Path (Get-RwValue $props 'LocalPackage') }
            if ($wantUpgrade -and $upgrade -ne $wantUpgrade) { continue }
            $name = Get-RwValue $props 'DisplayName'
            if ($wantName -and -not ([string]$name -like $wantName)) { continue }
            $user = $null
            if ($sid -ne 'S-1-5-18') {
                $account = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $sid
                try { $user = $account.Translate([System.Security.Principal.NTAccount]).Value } catch { $user = $null }
            }
            @{
                product_code = $code; upgrade_code = $upgrade; name = $name
                version = Get-RwValue $props 'DisplayVersion'; publisher = Get-RwValue $props 'Publisher'
                scope = $(if ($sid -eq 'S-1-5-18') { 'machine' } else { 'user' }); user = $user; sid = $sid
                install_date = Get-RwValue $props 'InstallDate'; install_location = Get-RwValue $props 'InstallLocation'
                local_package = Get-RwValue $props 'LocalPackage'
            }
        }
    })
    return ,$products
}
