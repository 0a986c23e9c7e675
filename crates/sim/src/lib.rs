//! Simulated liveness sessions: what a camera records while a person (or an attack) answers a
//! challenge, rendered deterministically from a seed, encoded as a browser's MediaRecorder
//! encodes it, with the client's event timeline and the messages it sends ([`Answer::script`]).
//! It talks to no server: `openliveness-client` plays its scripts against one.
//!
//! The key decision: everything is rendered from first principles (a textured surface under a
//! pinhole camera, lit by ambient light and the screen), so the physical signals the engine
//! checks (perspective, reflection in time and space) come from the geometry and the light, not
//! from numbers planted for the engine to find.

pub mod evidence;
pub mod face;
pub mod mesh;
pub mod render;
pub mod rng;
pub mod room;
pub mod scenario;
pub mod script;
pub mod session;

pub use evidence::{evidence_of, issued_challenge};
pub use room::{AxisValue, Ranges, RoomConditions, AXES};
pub use scenario::{
    end_of_approach, simulate, ChallengeSpec, Recording, SessionSpec, Species, World,
};
pub use script::{Answer, Scripted};
pub use session::{client_messages, encode, encode_as, ClientMessage, Encoded, VideoCodec};
