# Show a message box in each given session with WTSSendMessage and return without waiting for an answer.
# Title and text come from stdin JSON and reach the API as .NET strings: no command line and no script
# text carries them, so quotes, line breaks and any Unicode arrive literally (msg.exe would need them
# quoted on a command line). The controller refuses a text over 255 or a title over 64 UTF-16 units.
Add-Type -Namespace RolloutWindows -Name SessionMessage -MemberDefinition @'
[DllImport("wtsapi32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
private static extern bool WTSSendMessageW(IntPtr server, int sessionId, string title, int titleBytes,
    string message, int messageBytes, int style, int timeoutSeconds, out int response, bool wait);

// The Win32 error is read here, right after the call, before PowerShell can run anything that resets it.
public static int Send(int sessionId, string title, string text, int style) {
    int response;
    if (WTSSendMessageW(IntPtr.Zero, sessionId, title, title.Length * 2, text, text.Length * 2, style, 0,
            out response, false)) {
        return 0;
    }
    return Marshal.GetLastWin32Error();
}
'@

$title = [string](Get-RwValue $rwArgs 'title')
$text = [string](Get-RwValue $rwArgs 'text')
# MB_OK | MB_ICONINFORMATION | MB_SETFOREGROUND | MB_TOPMOST: the box must not hide behind the very
# Office window it asks the user to close.
$style = 0x40 -bor 0x10000 -bor 0x40000
$sessions = @(foreach ($id in @(Get-RwValue $rwArgs 'session_ids')) {
        $code = [RolloutWindows.SessionMessage]::Send([int]$id, $title, $text, $style)
        $entry = @{ session_id = [int]$id; sent = ($code -eq 0); error = $null }
        if ($code -ne 0) { $entry.error = (New-Object System.ComponentModel.Win32Exception($code)).Message }
        $entry
    })
Write-RwResult -Result @{ sessions = $sessions }
