# rollout.windows uses: _Session
# Whom a per-user install is for: each named account resolved to its SID, and (with logged_on) every
# user with an interactive session; each with the session it is logged on in, or none. Also the product's Active Setup component, when asked for,
# so a rerun decides everything from this and Get-InstalledProduct alone.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
# Each account's session is its first one as Get-RwSessionUser (_Session.ps1) lists them.
$sessionOf = @{}
foreach ($entry in @(Get-RwSessionUser)) {
    if (-not $sessionOf.ContainsKey($entry.sid)) { $sessionOf[$entry.sid] = @{ id = $entry.session_id; user = $entry.user } }
}

$users = New-Object System.Collections.Generic.List[object]
$seen = @{}
foreach ($name in @(Get-RwValue $rwArgs 'users' | Where-Object { $_ } | ForEach-Object { [string]$_ })) {
    $entry = @{ name = $name; account = $null; sid = $null; session_id = $null; error = $null }
    try {
        $sid = (New-Object System.Security.Principal.NTAccount($name)).Translate(
            [System.Security.Principal.SecurityIdentifier])
        $entry.sid = $sid.Value
        $entry.account = $sid.Translate([System.Security.Principal.NTAccount]).Value
        if ($sessionOf.ContainsKey($entry.sid)) { $entry.session_id = $sessionOf[$entry.sid].id }
    } catch { $entry.error = $_.Exception.Message }
    if ($entry.sid -and $seen.ContainsKey($entry.sid)) { continue }
    if ($entry.sid) { $seen[$entry.sid] = $true }
    $users.Add($entry)
}
if (Get-RwValue $rwArgs 'logged_on') {
    foreach ($sid in @($sessionOf.Keys | Sort-Object { $sessionOf[$_].id })) {
        if ($seen.ContainsKey($sid)) { continue }
        $seen[$sid] = $true
        $session = $sessionOf[$sid]
        $users.Add(@{ name = $session.user; account = $session.user; sid = $sid; session_id = $session.id; error = $null })
    }
}

$activeSetup = $null
$component = [string](Get-RwValue $rwArgs 'active_setup')
if ($component) {
    $key = Join-Path 'HKLM:\SOFTWARE\Microsoft\Active Setup\Installed Components' $component
    $item = Get-Item -LiteralPath $key -ErrorAction SilentlyContinue
    if ($null -ne $item) {
        $activeSetup = @{ name = $item.GetValue(''); version = $item.GetValue('Version')
            stub_path = $item.GetValue('StubPath'); is_installed = $item.GetValue('IsInstalled') }
    }
}
Write-RwResult -Result @{ users = $users.ToArray(); active_setup = $activeSetup }
