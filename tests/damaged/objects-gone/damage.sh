rm -rf meta/objects
