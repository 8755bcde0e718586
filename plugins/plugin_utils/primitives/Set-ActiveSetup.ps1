# Register (or remove) an Active Setup component: at each user's next logon Windows compares the
# component's Version under HKLM with the one it recorded in that user's HKCU and, when HKLM is
# newer or the user has none, runs StubPath as the user. The controller decides the values and
# whether anything must change; this only writes them.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
$component = [string]$rwArgs.component
$key = Join-Path -Path 'HKLM:\SOFTWARE\Microsoft\Active Setup\Installed Components' -ChildPath $component
if ([string](Get-RwValue $rwArgs 'state') -eq 'absent') {
    $existed = Test-Path -LiteralPath $key
    if ($existed) { Remove-Item -LiteralPath $key -Recurse -Force }
    Write-RwResult -Result @{ changed = $existed }
    exit 0
}
if (-not (Test-Path -LiteralPath $key)) { $null = New-Item -Path $key -Force }
Set-ItemProperty -LiteralPath $key -Name '(default)' -Value ([string]$rwArgs.name)
$null = New-ItemProperty -LiteralPath $key -Name 'Version' -Value ([string]$rwArgs.version) -PropertyType String -Force
$null = New-ItemProperty -LiteralPath $key -Name 'StubPath' -Value ([string]$rwArgs.stub_path) -PropertyType String `
    -Force
$null = New-ItemProperty -LiteralPath $key -Name 'IsInstalled' -Value 1 -PropertyType DWord -Force
Write-RwResult -Result @{ changed = $true }
