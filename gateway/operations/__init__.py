"""The hand-over operations every channel calls (SFTPGo's `common`, here): send, download,
confirm receipt, dispatch the password notice. Policy, encryption, logging and evidence happen
here, so no channel can skip one; a channel only translates its protocol into these calls."""
