# Whom a per-user install is for: each named account resolved to its SID, and (with logged_on) every
# user with an interactive session; each with the session it is logged on in, or none. Also the product's Active Setup component, when asked for,
# so a rerun decides everything from this and Get-InstalledProduct alone.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
# A session's users are the owners of its processes that are user accounts (local or domain
# S-1-5-21-, Azure AD S-1-12-1-): not only explorer.exe, which a RemoteApp session or a replaced shell
# never runs, and not SYSTEM, DWM-n (S-1-5-90-) or UMFD-n (S-1-5-96-), present in every session.
# -IncludeUserName needs the elevated token a WinRM administrator has.
$sessionOf = @{}
$sidOf = @{}
foreach ($process in @(Get-Process -IncludeUserName | Where-Object { $_.SessionId -gt 0 -and $_.UserName } |
            Sort-Object -Property @('SessionId', 'Id'))) {
    $name = [string]$process.UserName
    if (-not $sidOf.ContainsKey($name)) {
        $sidOf[$name] = $null
        try {
            $sidOf[$name] = (New-Object System.Security.Principal.NTAccount($name)).Translate(
                [System.Security.Principal.SecurityIdentifier]).Value
        } catch { $sidOf[$name] = $null }
    }
    $sid = $sidOf[$name]
    if ($sid -notmatch '^S-1-(5-21|12-1)-') { continue }
    if (-not $sessionOf.ContainsKey($sid)) { $sessionOf[$sid] = @{ id = $process.SessionId; user = $name } }
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
