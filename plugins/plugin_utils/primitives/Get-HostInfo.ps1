# rollout.windows uses: _Session
# Facts the action plugins decide on: name, OS, PowerShell, boot time, logged-on users (as
# Get-RwSessionUser, _Session.ps1, finds them). Reboot needs only the boot time, so failing to list
# users degrades to null with a message, never a failed command that reboot would wait out.
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$users = $null
$usersError = $null
try {
    $listed = @{}
    $users = @(foreach ($entry in @(Get-RwSessionUser)) {
            if (-not $listed.ContainsKey($entry.user)) { $listed[$entry.user] = $true; $entry.user }
        })
} catch { $users = $null; $usersError = 'logged-on users unknown: ' + $_.Exception.Message }
Write-RwResult -Result @{
    computer_name = $env:COMPUTERNAME
    os_version = $os.Version
    powershell_version = $PSVersionTable.PSVersion.ToString()
    last_boot = $os.LastBootUpTime.ToUniversalTime().ToString('o')
    logged_on_users = $users
    logged_on_users_error = $usersError
}
