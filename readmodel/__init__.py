"""The read model's one home: writing it (projection, monitoring, suspects), querying one
case's history, and rebuilding it from the workflows. Tables are declared in models/."""
