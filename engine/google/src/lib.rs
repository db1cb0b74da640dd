//! Google Ads REST client (API v26 by default): reads with GAQL, mutations, typed errors,
//! retries that follow Google's guidance and a per-customer rate limiter.
