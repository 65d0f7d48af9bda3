"""The app shell: the ASGI server, navigation, the signed-in session, and the components every page shares."""
