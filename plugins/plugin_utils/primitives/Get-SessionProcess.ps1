# rollout.windows uses: _Session
# Interactive sessions and the processes with the given names, each with session id, user and start time
# (Get-RwSessionProcess, _Session.ps1). A session's user is the first account Get-RwSessionUser finds in it.
# ansible-core runs every script under Set-StrictMode -Version Latest: read optional values through
# PSObject.Properties, since touching an absent property would throw.
Write-RwResult -Result (Get-RwSessionProcess -Names (Get-RwValue $rwArgs 'names'))
