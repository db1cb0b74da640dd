//! Google OAuth for installed apps: consent with PKCE (S256) and `state` on a loopback
//! redirect, refresh that never waits on a person, revocation.
