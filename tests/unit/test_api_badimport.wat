(module (import "plugin" "double" (func (param i64) (result i32))))
