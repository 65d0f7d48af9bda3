"""Account pages' pieces: sign-in and the account settings sections."""
