package io.robustok.spark;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.serializers.JavaSerializer;
import org.apache.spark.serializer.KryoRegistrator;

/**
 * Spark's Kryo setup: ND4J's registrator (INDArray) when it is on the classpath, and Java serialization for
 * Java records, whose final fields Kryo's field serializer cannot set (our records are all Serializable).
 */
public final class KryoRegistration implements KryoRegistrator {
    static final String ND4J = "org.nd4j.kryo.Nd4jRegistrator";

    @Override
    public void registerClasses(Kryo kryo) {
        kryo.addDefaultSerializer(Record.class, JavaSerializer.class);
        try {
            Class<?> c = Class.forName(ND4J, true, Thread.currentThread().getContextClassLoader() != null
                    ? Thread.currentThread().getContextClassLoader() : KryoRegistration.class.getClassLoader());
            ((KryoRegistrator) c.getDeclaredConstructor().newInstance()).registerClasses(kryo);
        } catch (ClassNotFoundException e) {
            // data-prep alone (prep job): no ND4J arrays travel through Spark
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot initialise " + ND4J, e);
        }
    }
}
