// Creates the connector's own MongoDB user on the first start of an empty
// volume (the mongo image runs /docker-entrypoint-initdb.d/*.js as root).
// The services never use the root account: readWrite on MONGO_DATABASE only.
// Changing MONGO_APP_PASSWORD later needs `docker compose down -v` (or
// db.changeUserPassword) because this runs only on an empty data directory.
const name = process.env.MONGO_DATABASE || "randomuser";
const user = process.env.MONGO_APP_USERNAME;
const password = process.env.MONGO_APP_PASSWORD;
if (!user || !password) {
  throw new Error("MONGO_APP_USERNAME and MONGO_APP_PASSWORD must be set");
}
db.getSiblingDB(name).createUser({
  user: user,
  pwd: password,
  roles: [{ role: "readWrite", db: name }],
});
print(`created user ${user} with readWrite on ${name}`);
