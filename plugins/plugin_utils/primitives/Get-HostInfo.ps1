# Facts the action plugins decide on: name, OS, PowerShell, boot time, logged-on users.
# Logged-on users are the user accounts (local or domain S-1-5-21-, Azure AD S-1-12-1-) owning
# processes in sessions above 0, not Win32_LogonSession -> Win32_Account: that association fails for
# domain, Azure AD and virtual accounts, and reboot, which needs only the boot time, would then wait
# out its timeout. Failing to list them degrades to null with a message, never a failed command.
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$users = $null
$usersError = $null
try {
    $sidOf = @{}
    $users = @(foreach ($process in @(Get-Process -IncludeUserName | Where-Object { $_.SessionId -gt 0 -and $_.UserName } |
                    Sort-Object -Property @('SessionId', 'Id'))) {
            $name = [string]$process.UserName
            if (-not $sidOf.ContainsKey($name)) {
                $sidOf[$name] = $null
                try {
                    $sidOf[$name] = (New-Object System.Security.Principal.NTAccount($name)).Translate(
                        [System.Security.Principal.SecurityIdentifier]).Value
                } catch { $sidOf[$name] = $null }
                if ($sidOf[$name] -match '^S-1-(5-21|12-1)-') { $name }
            }
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
