"""A scene's lifecycle, between the entry points (`handler.api`, `handler.s3_trigger`) and the storage
adapter (`handler.s3_store`), which it takes as a `store.Store` parameter:

- `keys`: which object keys are scenes (one policy for the trigger, `key=` and `/uploads`);
- `layout`: where a scene's outputs live;
- `sources`: which bytes to read (an upload, an object, its COG copy; a SAFE zip's TCI) and opening them;
- `items`: a scene's description and STAC Item;
- `processing`: rendering a stored object and writing its outputs while it is current;
- `uploads`: the presigned-upload flow and its results;
- `errors`: request and object errors (the core's are about raster content).
"""
