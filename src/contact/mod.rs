//! Email addresses and phone numbers: how they are normalised and checked, wherever one
//! enters (sign-up, campuses' domains, phone codes, the configuration).

pub mod email;
pub mod phone;
