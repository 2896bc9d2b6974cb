//! The camera agent runtime: the camera core with hardware, MQTT and HTTP at its edges.
