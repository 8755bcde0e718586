# The loader sent on stdin instead of a primitive the host keeps (_winhost.build_cached_stdin). The
# controller puts two lines before it: $rwName (a primitive name) and $rwHash (the SHA-256 of the
# collection's own script for it, lower-case hex). Nothing the host holds chooses what runs: the file
# is read once into memory, those bytes are hashed, and the script block is made from the same bytes,
# so a file swapped after the check is never what runs. A missing, unreadable or different file runs
# nothing and answers a cache miss; the controller then sends the whole script (_Store.ps1).
$rwB = $null
$rwR = 'mismatch'
try { $rwB = [IO.File]::ReadAllBytes("$env:ProgramData\rollout.windows\primitives\$rwName-$rwHash.ps1") }
catch [UnauthorizedAccessException] { $rwR = 'denied' } catch { $rwR = 'absent' }
if ($null -eq $rwB -or ([BitConverter]::ToString([Security.Cryptography.SHA256]::Create().ComputeHash($rwB)) -replace '-') -ne $rwHash) {
    '{"failed":true,"cache_miss":"' + $rwName + '","sha256":"' + $rwHash + '","reason":"' + $rwR + '"}'
    exit 1
}
$input | & ([ScriptBlock]::Create([Text.Encoding]::ASCII.GetString($rwB)))
