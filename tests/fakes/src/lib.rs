//! Local fakes of Google's servers for tests: the Google Ads REST API and Google OAuth, keeping
//! the documented contract (`../shared/reference/google-ads-and-oauth.md`).
