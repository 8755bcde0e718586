# rollout.windows uses: _Hive
# Everything the controller decides the per-user auto-updater from, in one command: each Windows Installer
# product whose DisplayName matches name (per user, or only the users asked about, and per machine), and for
# each user the hive's policy values, InstallDir and the updater's own values, WebView2 per user, the startup
# task; then WebView2 per machine and the host's zone and clock. The hive is written by the user: every string
# is cut at 4096 characters so the answer stays bounded, and the controller checks every value.
$name = [string]$rwArgs.name
$users = @(Get-RwValue $rwArgs 'users' | Where-Object { $_ })
$policyKey = [string]$rwArgs.policy_key
$settingsKey = [string]$rwArgs.settings_key
$exe = [string]$rwArgs.updater_executable
$webView = 'Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}'
$stateNames = @('UpdaterVersion', 'LastCheck', 'LastOutcome', 'LastError', 'DownloadAttempts', 'InstallAttempts',
    'ProcessPolls', 'PendingVersion', 'Phase', 'Config')

function Get-RwValues([string] $Path, [string[]] $Names) {
    $item = Get-ItemProperty -LiteralPath $Path -ErrorAction SilentlyContinue
    $out = @{}
    foreach ($n in $Names) {
        $value = Get-RwValue $item $n
        if ($null -ne $value -and -not ($value -is [int] -or $value -is [long])) {
            $value = [string]$value
            if ($value.Length -gt 4096) { $value = $value.Substring(0, 4096) }
        }
        $out[$n] = $value
    }
    return $out
}

$userData = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData'
$found = @(foreach ($sidKey in Get-ChildItem -Path $userData) {
    $sid = $sidKey.PSChildName
    foreach ($productKey in @(Get-ChildItem -Path (Join-Path $sidKey.PSPath 'Products') -ErrorAction SilentlyContinue)) {
        $props = Get-ItemProperty -Path (Join-Path $productKey.PSPath 'InstallProperties') -ErrorAction SilentlyContinue
        if ($null -eq $props -or -not ([string](Get-RwValue $props 'DisplayName') -like $name)) { continue }
        $user = $null
        if ($sid -ne 'S-1-5-18') {
            $account = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $sid
            try { $user = $account.Translate([System.Security.Principal.NTAccount]).Value } catch { $user = $null }
            $short = if ($user) { ($user -split '\\')[-1] } else { $sid }
            if ($users.Count -and -not @($users | Where-Object { $_ -in @($sid, $user, $short) })) { continue }
        }
        @{ sid = $sid; user = $user; scope = $(if ($sid -eq 'S-1-5-18') { 'machine' } else { 'user' })
            name = Get-RwValue $props 'DisplayName'; version = Get-RwValue $props 'DisplayVersion'
            install_source = Get-RwValue $props 'InstallSource' }
    }
})

foreach ($entry in @($found | Where-Object { $_.scope -eq 'user' })) {
    $entry.profile = Get-RwProfilePath -Sid $entry.sid
    $entry.hive_error = $null
    try {
        $hive = Invoke-RwUserHive -Sid $entry.sid -ProfilePath $entry.profile -Script { param ($root)
            @{ install_dir = (Get-RwValues "$root\$settingsKey" @('InstallDir')).InstallDir
                policy = Get-RwValues "$root\$policyKey" @('Enabled', 'BackendUrl', 'CertificateThumbprint')
                state = Get-RwValues "$root\$settingsKey\AutoUpdater" $stateNames
                webview2_user = (Get-RwValues "$root\Software\$webView" @('pv')).pv }
        }
        foreach ($key in @($hive.Keys)) { $entry[$key] = $hive[$key] }
    } catch { $entry.hive_error = $_.Exception.Message }
    $dir = [string]$entry['install_dir']
    $entry.updater_exists = [bool]($dir -and (Test-Path -LiteralPath (Join-Path $dir $exe) -PathType Leaf))
    $task = Get-ScheduledTask -TaskPath ([string]$rwArgs.task_path) -TaskName $entry.sid -ErrorAction SilentlyContinue
    $entry.task = $null
    if ($null -ne $task) {
        $action = @($task.Actions)[0]
        $entry.task = @{ execute = [string]$action.Execute; arguments = [string]$action.Arguments
            user_id = [string]$task.Principal.UserId; logon_type = [string]$task.Principal.LogonType
            run_level = [string]$task.Principal.RunLevel
            triggers = @($task.Triggers | ForEach-Object { [string]$_.CimClass.CimClassName }) }
    }
}
$now = [DateTime]::UtcNow
Write-RwResult -Result @{
    products = $found
    webview2_machine = (Get-RwValues "HKLM:\SOFTWARE\WOW6432Node\$webView" @('pv')).pv
    timezone_id = [TimeZoneInfo]::Local.Id
    utc_offset_minutes = [int][TimeZoneInfo]::Local.GetUtcOffset($now).TotalMinutes
    utc_now = $now.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [Globalization.CultureInfo]::InvariantCulture)
}
